# want: artifact.hcl:10: artifact checksum "sha256:abc" is not a sha256 or sha512 digest
# want: artifact.hcl:17: artifact destination "../../etc" is outside the task directory
# want: artifact.hcl:12: artifact has no source
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      artifact {
        source   = "https://example.invalid/app"
        checksum = "sha256:abc"
      }
      artifact {
        destination = "local/"
      }
      artifact {
        source      = "https://example.invalid/app"
        destination = "../../etc"
      }
    }
  }
}
