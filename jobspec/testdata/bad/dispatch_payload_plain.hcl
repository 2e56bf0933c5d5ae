# want: dispatch_payload_plain.hcl:6: task "t" has dispatch_payload but job "plain" is not parameterized
job "plain" {
  group "g" {
    task "t" {
      driver = "exec"
      dispatch_payload {
        file = "input.json"
      }
    }
  }
}
