job "render" {
  type = "batch"

  parameterized {
    meta_required = ["x"]
    meta_optional = ["colour"]
  }

  meta {
    colour = "blue"
  }

  group "g" {
    task "work" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/input.json; echo $NOMAD_META_x"]
      }
      dispatch_payload {
        file = "input.json"
      }
    }
  }
}
