# shape: a go-getter git:: artifact source (download an https:// file with a checksum instead)
# want: git::
job "git" {
  group "g" {
    task "t" {
      driver = "exec"

      artifact {
        source      = "git::https://github.com/example/scripts"
        destination = "local/scripts"
      }

      config {
        command = "local/scripts/run.sh"
      }
    }
  }
}
