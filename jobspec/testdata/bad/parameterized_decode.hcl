# want: parameterized_decode.hcl:8: job "p" parameterized: unknown attribute "meta_requird"; did you mean "meta_required"?
# want: parameterized_decode.hcl:10: job "p": duplicate "parameterized" block
# want: parameterized_decode.hcl:17: group "g" task "t" dispatch_payload: unknown attribute "path"
job "p" {
  type = "batch"
  parameterized {
    meta_required = ["x"]
    meta_requird  = ["y"]
  }
  parameterized {
  }
  group "g" {
    task "t" {
      driver = "exec"
      dispatch_payload {
        file = "a"
        path = "b"
      }
    }
  }
}
