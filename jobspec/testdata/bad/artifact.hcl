# want: artifact.hcl:13: artifact checksum "sha256:abc": a sha256 checksum is 64 hex digits
# want: artifact.hcl:20: artifact destination "../../etc": destination escapes the task dir
# want: artifact.hcl:29: artifact source "git::https://example.invalid/repo" uses go-getter's "git::" getter, which the agent does not have; git sources are not supported
# want: artifact.hcl:15: artifact has no source
# want: artifact.hcl:23: artifact source "ftp://example.invalid/app" has scheme "ftp"
# want: artifact.hcl:26: artifact source "file://server/app" names a host
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
      artifact {
        source = "git::https://example.invalid/repo"
      }
    }
  }
}
