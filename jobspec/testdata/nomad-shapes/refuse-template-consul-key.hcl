# shape: a template reading Consul KV with key (Tether has no key/value store)
# want: "key"
job "kv" {
  group "g" {
    task "t" {
      driver = "exec"

      template {
        data        = "LEVEL={{ key \"service/app/log_level\" }}\n"
        destination = "local/env"
        env         = true
      }

      config {
        command = "/opt/app/app"
      }
    }
  }
}
