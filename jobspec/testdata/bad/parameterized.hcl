# want: parameterized.hcl:7: a parameterized job must be of type "batch" or "sysbatch", not "service"
# want: parameterized.hcl:8: unknown parameterized payload "maybe"
# want: parameterized.hcl:10: parameterized meta key "x" is both required and optional
# want: parameterized.hcl:19: dispatch_payload file "../secrets/key" is outside the task's local/ directory
# want: parameterized.hcl:24: dispatch_payload has no file
job "p" {
  parameterized {
    payload       = "maybe"
    meta_required = ["x"]
    meta_optional = ["x"]
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      dispatch_payload {
        file = "../secrets/key"
      }
    }
    task "t2" {
      driver = "exec"
      dispatch_payload {
      }
    }
  }
}
