# want: artifact.hcl:12: artifact checksum "sha256:abc" is not a sha256 or sha512 digest
# want: artifact.hcl:19: artifact destination "../../etc" is outside the task and allocation directories
# want: artifact.hcl:14: artifact has no source
# want: artifact.hcl:22: artifact source "ftp://example.invalid/app" has scheme "ftp"
# want: artifact.hcl:25: artifact source "file://server/app" names a host
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
      artifact {
        source = "ftp://example.invalid/app"
      }
      artifact {
        source = "file://server/app"
      }
    }
  }
}
