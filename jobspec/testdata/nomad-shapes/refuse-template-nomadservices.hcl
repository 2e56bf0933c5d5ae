# shape: a template listing every service with nomadServices, which the agent does not define
# want: nomadServices
job "catalog" {
  group "g" {
    task "t" {
      driver = "exec"

      template {
        data        = "{{ range nomadServices }}{{ .Name }}\n{{ end }}"
        destination = "local/services.txt"
      }

      config {
        command = "/opt/app/app"
      }
    }
  }
}
