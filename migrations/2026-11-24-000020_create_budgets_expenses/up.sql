-- Budgets per category and month, and expenses with an approval workflow. Money is
-- bigint minor units, checked here as well as in the code.
CREATE TABLE budgets (
    tenant_id       uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    category        text        NOT NULL
                                CHECK (category IN ('travel', 'meals', 'lodging', 'supplies', 'software', 'other')),
    -- First day of the month the budget covers (the API shows it as YYYY-MM).
    period          date        NOT NULL CHECK (period = date_trunc('month', period::timestamp)::date),
    amount_cents    bigint      NOT NULL CHECK (amount_cents > 0),
    spent_cents     bigint      NOT NULL DEFAULT 0 CHECK (spent_cents >= 0),
    remaining_cents bigint      GENERATED ALWAYS AS (amount_cents - spent_cents) STORED,
    version         integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT budgets_tenant_category_period_key UNIQUE (tenant_id, category, period),
    -- Whatever the code does, a budget is never overspent.
    CONSTRAINT budgets_spent_within_amount CHECK (spent_cents <= amount_cents)
);

CREATE INDEX budgets_tenant_created_idx ON budgets (tenant_id, created_at DESC, id DESC);
CREATE INDEX budgets_tenant_period_idx ON budgets (tenant_id, period, category);

CREATE TABLE expenses (
    tenant_id        uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               uuid        NOT NULL,
    submitter_id     uuid        NOT NULL,
    category         text        NOT NULL
                                 CHECK (category IN ('travel', 'meals', 'lodging', 'supplies', 'software', 'other')),
    amount_cents     bigint      NOT NULL CHECK (amount_cents BETWEEN 1 AND 100000000),
    currency         text        NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    description      text        NOT NULL CHECK (char_length(description) BETWEEN 1 AND 1000),
    incurred_on      date        NOT NULL,
    -- The month of incurred_on: the budget an approval debits, and ?period= of lists
    -- and reports.
    period           date        GENERATED ALWAYS AS (date_trunc('month', incurred_on::timestamp)::date) STORED,
    status           text        NOT NULL DEFAULT 'draft'
                                 CHECK (status IN ('draft', 'submitted', 'approved', 'rejected')),
    version          integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    approver_id      uuid,
    decided_at       timestamptz,
    rejection_reason text        CHECK (char_length(rejection_reason) <= 1000),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT expenses_submitter_fkey FOREIGN KEY (tenant_id, submitter_id) REFERENCES users (tenant_id, id),
    CONSTRAINT expenses_approver_fkey FOREIGN KEY (tenant_id, approver_id) REFERENCES users (tenant_id, id),
    CONSTRAINT expenses_decision_check
        CHECK (status NOT IN ('approved', 'rejected') OR (approver_id IS NOT NULL AND decided_at IS NOT NULL)),
    CONSTRAINT expenses_rejection_check CHECK (status <> 'rejected' OR rejection_reason IS NOT NULL)
);

CREATE INDEX expenses_tenant_created_idx ON expenses (tenant_id, created_at DESC, id DESC);
-- A member's own list.
CREATE INDEX expenses_tenant_submitter_idx ON expenses (tenant_id, submitter_id, created_at DESC, id DESC);
CREATE INDEX expenses_tenant_status_idx ON expenses (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX expenses_tenant_approver_idx ON expenses (tenant_id, approver_id) WHERE approver_id IS NOT NULL;
-- Reports and ?period=: covers every column the report aggregates, so a month of one
-- tenant is an index-only scan.
CREATE INDEX expenses_tenant_period_idx ON expenses (tenant_id, period, category)
    INCLUDE (status, amount_cents, submitter_id);
