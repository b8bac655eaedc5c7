"""hospitation slots, bookings, company members, path events; what a person needs to know of an offer

Existing offers get empty lists and "no" for the new required columns (server defaults).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:47:09.501360
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types


revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('company_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_company_member_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_company_member_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_member'))
    )
    with op.batch_alter_table('company_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_member_company_id'), ['company_id'], unique=False)
        batch_op.create_index('uq_company_member_person_company', ['person_id', 'company_id'], unique=True)

    op.create_table('hospitation_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_hospitation_slot_places')),
    sa.ForeignKeyConstraint(['offer_id'], ['hospitation_offer.id'], name=op.f('fk_hospitation_slot_offer_id_hospitation_offer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hospitation_slot'))
    )
    with op.batch_alter_table('hospitation_slot', schema=None) as batch_op:
        batch_op.create_index('ix_hospitation_slot_offer_start', ['offer_id', 'starts_at'], unique=False)

    op.create_table('booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reply', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('participant_rating', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('participant_wants_internship', sa.Boolean(), nullable=True),
    sa.Column('company_offers_internship', sa.Boolean(), nullable=True),
    sa.Column('late_cancel_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_booking_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['slot_id'], ['hospitation_slot.id'], name=op.f('fk_booking_slot_id_hospitation_slot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking'))
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index('ix_booking_person_status', ['person_id', 'status'], unique=False)
        batch_op.create_index('uq_booking_active_slot_person', ['slot_id', 'person_id'], unique=True, sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))

    op.create_table('path_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_path_event_booking_id_booking'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_path_event_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_path_event'))
    )
    with op.batch_alter_table('path_event', schema=None) as batch_op:
        batch_op.create_index('ix_path_event_person_stage', ['person_id', 'stage'], unique=False)

    with op.batch_alter_table('hospitation_offer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('meeting_point', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('what_to_bring', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('clothing', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('reachable_by', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('transit_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('shifts', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('heavy_work', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('licences', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('duration_hours', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('photo', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('hospitation_offer', schema=None) as batch_op:
        batch_op.drop_column('photo')
        batch_op.drop_column('duration_hours')
        batch_op.drop_column('licences')
        batch_op.drop_column('heavy_work')
        batch_op.drop_column('shifts')
        batch_op.drop_column('transit_minutes')
        batch_op.drop_column('reachable_by')
        batch_op.drop_column('clothing')
        batch_op.drop_column('what_to_bring')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('meeting_point')
        batch_op.drop_column('address')

    with op.batch_alter_table('path_event', schema=None) as batch_op:
        batch_op.drop_index('ix_path_event_person_stage')

    op.drop_table('path_event')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index('uq_booking_active_slot_person', sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))
        batch_op.drop_index('ix_booking_person_status')

    op.drop_table('booking')
    with op.batch_alter_table('hospitation_slot', schema=None) as batch_op:
        batch_op.drop_index('ix_hospitation_slot_offer_start')

    op.drop_table('hospitation_slot')
    with op.batch_alter_table('company_member', schema=None) as batch_op:
        batch_op.drop_index('uq_company_member_person_company')
        batch_op.drop_index(batch_op.f('ix_company_member_company_id'))

    op.drop_table('company_member')
