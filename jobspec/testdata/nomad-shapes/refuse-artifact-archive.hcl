# shape: a release tarball as an artifact, which Nomad's go-getter unpacks and the agent downloads as it is (download the program itself, or write options { archive = false })
# want: archive
job "tarball" {
  group "g" {
    task "t" {
      driver = "exec"

      artifact {
        source      = "https://releases.example.com/app/1.2.0/app_linux_amd64.tar.gz"
        destination = "local/app"
      }

      config {
        command = "local/app/app"
      }
    }
  }
}
