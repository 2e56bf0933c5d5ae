# shape: lower-case ${name} that is not a variable, kept as literal text as Nomad does: shell variables in args, a templated string in env, text in template data
job "literal" {
  datacenters = ["dc1"]

  group "g" {
    task "sh" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "for f in ${files}; do echo ${f}; done; echo ${HOME}"]
      }

      env {
        GREETING = "hello ${name}"
      }

      template {
        data        = <<EOH
user=${user}
path=${path}/bin
alloc={{ env "NOMAD_ALLOC_ID" }}
EOH
        destination = "local/conf.txt"
      }
    }
  }
}
