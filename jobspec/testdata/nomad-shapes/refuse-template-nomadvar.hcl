# shape: a template reading Nomad Variables with nomadVar, which agents do not have
# want: nomadVar
job "vars" {
  group "g" {
    task "t" {
      driver = "exec"

      template {
        data        = <<EOH
{{ with nomadVar "nomad/jobs/vars" }}PASSWORD={{ .password }}{{ end }}
EOH
        destination = "secrets/env"
        env         = true
      }

      config {
        command = "/opt/app/app"
      }
    }
  }
}
