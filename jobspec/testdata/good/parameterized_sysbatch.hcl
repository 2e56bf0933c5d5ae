job "collect" {
  type = "sysbatch"

  parameterized {
    payload = "forbidden"
  }

  task "collect" {
    driver = "exec"
    config {
      command = "/usr/local/bin/collect"
      args    = ["${NOMAD_META_since}"]
    }
  }
}
