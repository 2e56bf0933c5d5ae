# shape: a template reading a Vault secret (Tether has no Vault integration)
# want: secret
job "vault" {
  group "g" {
    task "t" {
      driver = "exec"

      template {
        data        = "{{ with secret \"database/creds/app\" }}PASS={{ .Data.password }}{{ end }}\n"
        destination = "secrets/db.env"
        env         = true
      }

      config {
        command = "/opt/app/app"
      }
    }
  }
}
