# want: no_driver.hcl:4: task "t" has no driver
job "web" {
  group "g" {
    task "t" {
      config { command = "/bin/true" }
    }
  }
}
