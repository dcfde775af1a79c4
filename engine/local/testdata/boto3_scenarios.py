"""Drive the local engine with boto3 through array, N_TO_N, failure, retry,
timeout and cancel scenarios. Usage: boto3_scenarios.py ENDPOINT QUEUE.
Exits non-zero with one line per failed check."""
import sys
import time

import boto3

endpoint, queue = sys.argv[1], sys.argv[2]
# Credentials: the engine's generated ones, from AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE.
b = boto3.client("batch", endpoint_url=endpoint, region_name="us-east-1")
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def define(name, script):
    b.register_job_definition(
        jobDefinitionName=name, type="container",
        containerProperties={"image": "busybox", "command": ["sh", "-c", script],
                             "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                                      {"type": "MEMORY", "value": "64"}]})
    return name


def submit(defn, **kw):
    return b.submit_job(jobName="boto3", jobQueue=queue, jobDefinition=defn, **kw)["jobId"]


def describe(*ids):
    return {j["jobId"]: j for j in b.describe_jobs(jobs=list(ids))["jobs"]}


def wait(job_id, statuses=("SUCCEEDED", "FAILED"), timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        j = describe(job_id)[job_id]
        if j["status"] in statuses:
            return j
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} stuck in {j['status']}")


# Array: children ids, env, statusSummary.
arr = submit(define("b3-array2", 'case "$AWS_BATCH_JOB_ID" in *:"$AWS_BATCH_JOB_ARRAY_INDEX") [ "$AWS_BATCH_JOB_ARRAY_SIZE" = 3 ];; *) exit 9;; esac'),
             arrayProperties={"size": 3})
p = wait(arr)
check(p["status"] == "SUCCEEDED", f"array: parent {p['status']}")
check(p["arrayProperties"]["statusSummary"].get("SUCCEEDED") == 3, f"array: summary {p['arrayProperties']}")
check(len(p["arrayProperties"]["statusSummary"]) == 7, "array: statusSummary lacks keys")
kids = describe(*[f"{arr}:{i}" for i in range(3)])
check(sorted(k["arrayProperties"]["index"] for k in kids.values()) == [0, 1, 2], "array: child indexes")

# N_TO_N with a failing child.
a = submit(define("b3-a", '[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]'), arrayProperties={"size": 3})
bb = submit(define("b3-b", "true"), arrayProperties={"size": 3}, dependsOn=[{"jobId": a, "type": "N_TO_N"}])
check(wait(bb)["status"] == "FAILED", "N_TO_N: parent B should fail")
kids = describe(*[f"{bb}:{i}" for i in range(3)])
check(kids[f"{bb}:1"]["statusReason"] == "Dependent Job failed", f"N_TO_N: B:1 reason {kids[bb + ':1'].get('statusReason')}")
check(kids[f"{bb}:1"]["attempts"] == [], "N_TO_N: B:1 ran")
check(kids[f"{bb}:0"]["status"] == "SUCCEEDED" and kids[f"{bb}:2"]["status"] == "SUCCEEDED", "N_TO_N: B:0/B:2 should succeed")

# Failure and retry.
f = wait(submit(define("b3-fail", "exit 3")))
check(f["status"] == "FAILED" and f["container"]["exitCode"] == 3, "failure: exit code")
check(f["statusReason"] == "Essential container in task exited", f"failure: reason {f.get('statusReason')}")
r = wait(submit(define("b3-retry", '[ "$AWS_BATCH_JOB_ATTEMPT" = 3 ]'), retryStrategy={"attempts": 3}))
check(r["status"] == "SUCCEEDED" and len(r["attempts"]) == 3, f"retry: {r['status']} after {len(r['attempts'])} attempts")
e = wait(submit(define("b3-exit", "exit 42"), retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "4*", "action": "EXIT"}]}))
check(len(e["attempts"]) == 1, "evaluateOnExit EXIT: retried")

# Timeout (the engine under test accepts 1 s).
t = wait(submit(define("b3-timeout", "sleep 60"), timeout={"attemptDurationSeconds": 1}, retryStrategy={"attempts": 2}))
check(t["status"] == "FAILED" and t["statusReason"] == "Job attempt duration exceeded timeout", f"timeout: {t.get('statusReason')}")
check(len(t["attempts"]) == 1, "timeout: retried")

# Cancel a PENDING job, no-op cancel of a RUNNING one, terminate.
slow = submit(define("b3-slow", "sleep 3"))
pend = submit("b3-array2", dependsOn=[{"jobId": slow}])
wait(pend, ("PENDING",))
b.cancel_job(jobId=pend, reason="boto3 cancel")
wait(slow, ("RUNNING", "SUCCEEDED"))
b.cancel_job(jobId=slow, reason="no-op")
c = wait(pend)
check(c["status"] == "FAILED" and c["isCancelled"] and c["statusReason"] == "boto3 cancel", f"cancel: {c['status']} {c.get('statusReason')}")
check(wait(slow)["status"] == "SUCCEEDED", "cancel of a RUNNING job is a no-op")
long = submit(define("b3-long", "sleep 60"))
wait(long, ("RUNNING",))
b.terminate_job(jobId=long, reason="boto3 terminate")
tj = wait(long)
check(tj["status"] == "FAILED" and tj["isTerminated"], "terminate")

# ListJobs paging and errors.
pages = list(b.get_paginator("list_jobs").paginate(arrayJobId=arr, jobStatus="SUCCEEDED", PaginationConfig={"PageSize": 2}))
check(sum(len(pg["jobSummaryList"]) for pg in pages) == 3 and len(pages) == 2, "list_jobs paging")
try:
    b.submit_job(jobName="x", jobQueue=queue, jobDefinition="b3-fail", arrayProperties={"size": 1})
    errors.append("array size 1 accepted")
except b.exceptions.ClientException as ex:
    check("between 2 and 10000" in str(ex), f"ClientException message: {ex}")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print("boto3 scenarios: all checks passed")
