-- Benchmark data set, generated inside PostgreSQL (no client round trips):
-- 1,000 ordinary tenants with 5 users, 10 projects and 1,000 tasks each (1,000,000
-- tasks), and one big tenant "bench-big" with 30,000 tasks (for deep pages), 100,000
-- expenses this month (for the report) and a budget to approve against.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
-- `psql -v bench_tenants=N` for a reduced data set (scripts/bench.sh BENCH_TENANTS).
\if :{?bench_tenants}
\else
\set bench_tenants 1000
\endif

-- A placeholder hash no password matches: tokens are minted directly, nobody logs in.
\set pw_hash '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0YmVuY2g$2p0rC0cZ9GmQY0XxG0bbQYQ5xZVbNz0rKQbqk3dB3cQ'

INSERT INTO tenants (id, name, code)
SELECT gen_random_uuid(), 'Bench ' || g, 'bench-' || g FROM generate_series(1, :bench_tenants) g;
INSERT INTO tenants (id, name, code, max_users) VALUES (gen_random_uuid(), 'Bench big', 'bench-big', 1000);

INSERT INTO users (tenant_id, id, email, username, password_hash, role)
SELECT t.id, gen_random_uuid(), 'u' || g || '@' || t.code || '.test', 'user ' || g, :'pw_hash',
       CASE WHEN g = 1 THEN 'admin' ELSE 'member' END
FROM tenants t CROSS JOIN generate_series(1, 5) g;

INSERT INTO projects (tenant_id, id, name, owner_id, created_at)
SELECT u.tenant_id, gen_random_uuid(), 'Project ' || g, u.id, now() - g * interval '1 minute'
FROM users u CROSS JOIN generate_series(1, 2) g;
-- (5 users x 2 = 10 projects per tenant)

CREATE TEMP TABLE sizes AS
SELECT id AS tenant_id, CASE WHEN code = 'bench-big' THEN 3000 ELSE 100 END AS per_project FROM tenants;

INSERT INTO tasks (tenant_id, id, project_id, title, status, priority, due_at, assignee_id, completed_at, created_at)
SELECT p.tenant_id, gen_random_uuid(), p.id, 'Task ' || g,
       s.status, g % 11,
       CASE WHEN g % 4 = 0 THEN NULL ELSE now() + (g % 90) * interval '1 day' END,
       p.owner_id,
       CASE WHEN s.status = 'completed' THEN now() END,
       now() - g * interval '1 second' - random() * interval '1 second'
FROM projects p
JOIN sizes z ON z.tenant_id = p.tenant_id
CROSS JOIN LATERAL generate_series(1, z.per_project) g
CROSS JOIN LATERAL (SELECT (ARRAY['pending', 'in_progress', 'completed'])[1 + g % 3] AS status) s;

-- The big tenant's expenses: 100,000 this month across categories and members.
INSERT INTO expenses (tenant_id, id, submitter_id, category, amount_cents, description, incurred_on, status,
                      approver_id, decided_at, rejection_reason)
SELECT u.tenant_id, gen_random_uuid(), u.id,
       (ARRAY['travel', 'meals', 'lodging', 'supplies', 'software', 'other'])[1 + g % 6],
       100 + g % 5000, 'expense ' || g, date_trunc('month', now())::date + (g % 20),
       st.status,
       CASE WHEN st.status IN ('approved', 'rejected') THEN u.id END,
       CASE WHEN st.status IN ('approved', 'rejected') THEN now() END,
       CASE WHEN st.status = 'rejected' THEN 'bench' END
FROM (SELECT * FROM users WHERE tenant_id = (SELECT id FROM tenants WHERE code = 'bench-big') AND role = 'member') u
CROSS JOIN LATERAL generate_series(1, 25000) g
CROSS JOIN LATERAL (SELECT (ARRAY['draft', 'submitted', 'approved', 'rejected'])[1 + g % 4] AS status) st
WHERE date_trunc('month', now())::date + (g % 20) <= current_date OR g % 20 = 0;

-- Expenses waiting for the approval scenario: submitted, last month, one budget ("other").
INSERT INTO expenses (tenant_id, id, submitter_id, category, amount_cents, description, incurred_on, status, version)
SELECT u.tenant_id, gen_random_uuid(), u.id, 'other', 1000, 'to approve', (date_trunc('month', now()) - interval '1 month')::date,
       'submitted', 2
FROM (SELECT * FROM users WHERE tenant_id = (SELECT id FROM tenants WHERE code = 'bench-big') AND role = 'member') u
CROSS JOIN generate_series(1, 25000) g;
-- 100,000 submitted expenses, more than a run can send, so no request repeats.
-- Room for 5,000 approvals of 10.00: a run approves until the budget is spent, then
-- every further approval is a 422 budget_exceeded (rolled back).
INSERT INTO budgets (tenant_id, id, category, period, amount_cents)
SELECT id, gen_random_uuid(), 'other', (date_trunc('month', now()) - interval '1 month')::date, 5000000
FROM tenants WHERE code = 'bench-big';

VACUUM ANALYZE;
