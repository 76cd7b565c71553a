-- Projects and their tasks. Keys lead with tenant_id and every reference between
-- tenant tables is composite, so a task can never point at another tenant's project or
-- user, whatever the code does.
CREATE TABLE projects (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    description text        CHECK (char_length(description) <= 10000),
    owner_id    uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT projects_owner_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);

-- Default list order and keyset pagination.
CREATE INDEX projects_tenant_created_idx ON projects (tenant_id, created_at DESC, id DESC);
-- ?owner_id= in list order; also serves the foreign key.
CREATE INDEX projects_tenant_owner_idx ON projects (tenant_id, owner_id, created_at DESC, id DESC);

CREATE TABLE tasks (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    project_id   uuid        NOT NULL,
    title        text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
    description  text        CHECK (char_length(description) <= 10000),
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'in_progress', 'completed')),
    -- Kept equal to the status by the database itself.
    completed    boolean     GENERATED ALWAYS AS (status = 'completed') STORED,
    priority     integer     NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 10),
    due_at       timestamptz,
    assignee_id  uuid,
    version      integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    completed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tasks_project_fkey FOREIGN KEY (tenant_id, project_id)
        REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT tasks_assignee_fkey FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id),
    -- completed_at is set exactly while the task is completed.
    CONSTRAINT tasks_completed_at_check CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);

-- One index per list order and per common filter, each leading with tenant_id and
-- ending with the keyset tie-breaker, so every page is a range scan.
CREATE INDEX tasks_tenant_created_idx ON tasks (tenant_id, created_at DESC, id DESC);
CREATE INDEX tasks_tenant_project_idx ON tasks (tenant_id, project_id, created_at DESC, id DESC);
CREATE INDEX tasks_tenant_assignee_idx ON tasks (tenant_id, assignee_id, created_at DESC, id DESC);
CREATE INDEX tasks_tenant_status_idx ON tasks (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX tasks_tenant_priority_idx ON tasks (tenant_id, priority DESC, id DESC);
CREATE INDEX tasks_tenant_due_idx ON tasks (tenant_id, due_at ASC NULLS LAST, id ASC);
-- Open work by due date ("what is overdue?"): small, because finished tasks are left out.
CREATE INDEX tasks_tenant_open_due_idx ON tasks (tenant_id, due_at) WHERE status <> 'completed';
