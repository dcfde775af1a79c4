"""Submit arrays of `true` to a local engine and time them.
Usage: engine_driver.py ENDPOINT SIZE CHAIN ENGINE_PID
Prints one line: size chain children seconds children_per_s engine_cpu_s."""
import os
import sys
import time

import boto3

endpoint, size, chain, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
b = boto3.client("batch", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="local", aws_secret_access_key="local")
b.register_job_definition(jobDefinitionName="bench-true", type="container",
                          containerProperties={"image": "busybox", "command": ["true"],
                                               "resourceRequirements": [{"type": "VCPU", "value": "0.5"},
                                                                        {"type": "MEMORY", "value": "16"}]})


def cpu():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime of the engine itself


cpu0 = cpu()
t0 = time.time()
ids, prev = [], None
for i in range(chain):
    kw = {"arrayProperties": {"size": size}}
    if prev:
        kw["dependsOn"] = [{"jobId": prev, "type": "N_TO_N"}]
    prev = b.submit_job(jobName=f"bench{i}", jobQueue="feedbatch", jobDefinition="bench-true", **kw)["jobId"]
    ids.append(prev)
while True:
    jobs = b.describe_jobs(jobs=ids)["jobs"]
    if all(j["status"] in ("SUCCEEDED", "FAILED") for j in jobs):
        break
    time.sleep(0.5)
dt = time.time() - t0
ok = sum(j["arrayProperties"]["statusSummary"]["SUCCEEDED"] for j in jobs)
n = size * chain
print(f"{size} {chain} {n} {ok} {dt:.1f} {n / dt:.0f} {cpu() - cpu0:.1f}")
