"""Schemathesis hooks for `make contract` (scripts/contract.sh): who the requests are sent as.

SOLARHUB_CONTRACT_ROLE names the account to log in as (its username and password come from
SOLARHUB_CONTRACT_USER / SOLARHUB_CONTRACT_PASSWORD); without it the requests carry no token, and
every guarded operation must answer its documented 401.

The run's own accounts are the harness, not the subject: an admin run must not change or delete
them halfway (a fuzzed `PUT /admin/users/1` with a valid password would end the admin's own
session and turn the rest of the run into 401s). Their ids, in SOLARHUB_CONTRACT_ACCOUNTS, are
swapped for an id no user has before a request is sent; the operation is still exercised (and
must answer its documented 404).
"""

import os
import threading

import requests
import schemathesis

BASE_URL = os.environ["SOLARHUB_CONTRACT_URL"]
ROLE = os.environ.get("SOLARHUB_CONTRACT_ROLE", "")
ACCOUNTS = {int(i) for i in os.environ.get("SOLARHUB_CONTRACT_ACCOUNTS", "").split(",") if i}
# No user has this id: the seed and the run create a few hundred at most.
ABSENT_USER_ID = 2_000_000_000


def log_in() -> str:
    response = requests.post(
        f"{BASE_URL}/api/v1/auth/login",
        json={
            "username": os.environ["SOLARHUB_CONTRACT_USER"],
            "password": os.environ["SOLARHUB_CONTRACT_PASSWORD"],
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


if ROLE:

    # Caching is done here (refresh_interval=None): logout needs a session of its own each time.
    @schemathesis.auth(refresh_interval=None, retry_on=[])
    class RoleSession:
        """One session of the role for the whole run, and a fresh one for every logout, which
        ends the session it is given."""

        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.token = None

        def get(self, case, context):
            if context.operation.definition.raw.get("operationId") == "logout":
                return log_in()
            with self.lock:
                if self.token is None:
                    self.token = log_in()
                return self.token

        def set(self, case, data, context):
            case.headers = dict(case.headers or {})
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def before_call(context, case, kwargs):
    user_id = (case.path_parameters or {}).get("user_id")
    # A path parameter reaches the app as text: "1" and " 1" name user 1 as much as 1 does.
    text = str(user_id).strip() if not isinstance(user_id, bool) else ""
    if text.isdigit() and int(text) in ACCOUNTS:
        case.path_parameters = {**case.path_parameters, "user_id": ABSENT_USER_ID}
