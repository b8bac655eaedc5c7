"""outbox: retry_at and lease_losses, indexes for claims by chat

A row retried after a network error keeps its due time (its place in its chat's order, the start of its
retry horizon) and waits for ``retry_at``; lost leases are counted apart from attempts, so that the
poison-message rule does not fire on a row that merely lived through a Telegram outage. Claims look up
the other rows of a candidate's chat; rows to a bare chat id (groups) need an index for that, as rows
to a person have had one. And a claim reads pending rows in its order (priority, due_at, id) and stops
at its limit: without an index in that order it checked the chat of every due row before sorting.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_losses', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('retry_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_message_chat_id_status', ['chat_id', 'status'], unique=False)
        batch_op.create_index(
            'ix_outbox_message_claim_order', ['status', 'priority', 'due_at', 'id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_claim_order')
        batch_op.drop_index('ix_outbox_message_chat_id_status')
        batch_op.drop_column('retry_at')
        batch_op.drop_column('lease_losses')
