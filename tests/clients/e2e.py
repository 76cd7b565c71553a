"""End-to-end use of a client that openapi-python-client generated from /openapi.json.

    python e2e.py BASE_URL PLATFORM_TOKEN

Every call goes through the generated functions and models, with
raise_on_unexpected_status: an answer the document does not list fails the run.
"""

import sys
import uuid

from tenantry_client import AuthenticatedClient, Client
from tenantry_client.api.auth import login
from tenantry_client.api.projects import create_project
from tenantry_client.api.tasks import create_task, list_project_tasks, update_task
from tenantry_client.api.tenants import create_tenant
from tenantry_client.models import (
    CreateProjectRequest,
    CreateTaskRequest,
    CreateTenantRequest,
    LoginRequest,
    LoginResponse,
    NewAdminRequest,
    Problem,
    ProblemCode,
    Project,
    Task,
    TaskStatus,
    TenantCreated,
    UpdateTaskRequest,
)
from tenantry_client.types import UNSET

passed = 0


def check(condition, what):
    global passed
    if not condition:
        raise AssertionError(what)
    passed += 1


def main(base, platform_token):
    platform = AuthenticatedClient(base_url=base, token=platform_token, raise_on_unexpected_status=True)
    code = "py-" + uuid.uuid4().hex[:10]
    email, password = f"ada@{code}.example", "correct horse battery"
    created = create_tenant.sync_detailed(
        client=platform,
        body=CreateTenantRequest(
            name="Generated client", code=code,
            admin=NewAdminRequest(email=email, username="ada", password=password),
        ),
    )
    check(created.status_code == 201 and isinstance(created.parsed, TenantCreated), f"tenant: {created.content!r}")

    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    session = login.sync(client=anonymous, body=LoginRequest(tenant_code=code, email=email, password=password))
    check(isinstance(session, LoginResponse) and session.access_token, f"login: {session!r}")
    wrong = login.sync_detailed(client=anonymous, body=LoginRequest(tenant_code=code, email=email, password="wrong password"))
    check(wrong.status_code == 401 and wrong.parsed.code == ProblemCode.INVALID_CREDENTIALS, "bad login is 401")

    client = AuthenticatedClient(base_url=base, token=session.access_token, raise_on_unexpected_status=True)
    project = create_project.sync(client=client, body=CreateProjectRequest(name="Launch"))
    check(isinstance(project, Project), f"project: {project!r}")

    tasks = []
    for i in range(5):
        task = create_task.sync(project.id, client=client, body=CreateTaskRequest(title=f"task {i}", priority=i),
                                idempotency_key=f"{code}-task-{i}")
        check(isinstance(task, Task) and task.status == TaskStatus.PENDING and task.version == 1, f"task: {task!r}")
        tasks.append(task)
    replay = create_task.sync_detailed(project.id, client=client, body=CreateTaskRequest(title="task 0", priority=0),
                                       idempotency_key=f"{code}-task-0")
    check(replay.status_code == 201 and replay.parsed.id == tasks[0].id, "a replayed create is the first answer")

    first = tasks[0]
    updated = update_task.sync(first.id, client=client,
                               body=UpdateTaskRequest(version=first.version, status=TaskStatus.IN_PROGRESS))
    check(isinstance(updated, Task) and updated.version == 2 and updated.status == TaskStatus.IN_PROGRESS, f"update: {updated!r}")
    stale = update_task.sync_detailed(first.id, client=client, body=UpdateTaskRequest(version=1, title="stale"))
    check(stale.status_code == 409 and isinstance(stale.parsed, Problem), f"stale update: {stale.content!r}")
    check(stale.parsed.code == ProblemCode.VERSION_CONFLICT, f"code is the enum: {stale.parsed.code!r}")
    check(stale.parsed.current_version == 2, "current_version")

    seen, cursor, pages = [], UNSET, 0
    while True:
        page = list_project_tasks.sync(project.id, client=client, limit=2, cursor=cursor)
        pages += 1
        seen.extend(item.id for item in page.data)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    check(pages == 3, f"5 tasks in pages of 2: {pages} pages")
    check(sorted(seen) == sorted(t.id for t in tasks), "every task once")

    print(f"generated client: {passed} passed, 0 failed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
