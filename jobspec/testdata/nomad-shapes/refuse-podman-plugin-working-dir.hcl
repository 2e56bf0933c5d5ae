# shape: a task written for Nomad's podman driver plugin, whose working directory key is working_dir (Tether's, like Docker's, is work_dir)
# want: working_dir
# want: work_dir
job "plugin" {
  group "g" {
    task "t" {
      driver = "podman"

      config {
        image       = "docker.io/library/python:3.12-slim"
        command     = "python3"
        args        = ["-m", "http.server"]
        working_dir = "/srv"
      }
    }
  }
}
