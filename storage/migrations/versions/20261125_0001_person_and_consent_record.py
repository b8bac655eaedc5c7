"""person and consent record

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 21:40:00.404297
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types


revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=True),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('first_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('telegram_user_id', name=op.f('uq_person_telegram_user_id'))
    )
    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_consent_record_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index('ix_consent_person_purpose', ['person_id', 'purpose'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_person_purpose')

    op.drop_table('consent_record')
    op.drop_table('person')
