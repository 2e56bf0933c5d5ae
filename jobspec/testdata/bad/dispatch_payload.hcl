# want: dispatch_payload.hcl:11: task "t" has dispatch_payload but the job's parameterized payload is "forbidden"
# want: dispatch_payload.hcl:12: dispatch_payload file "/etc/passwd" is outside the task's local/ directory
job "q" {
  type = "batch"
  parameterized {
    payload = "forbidden"
  }
  group "g" {
    task "t" {
      driver = "exec"
      dispatch_payload {
        file = "/etc/passwd"
      }
    }
  }
}
