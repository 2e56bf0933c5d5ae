# want: function_typo.hcl:5: Call to unknown function
job "web" {
  group "g" {
    task "t" {
      driver = uper("exec")
    }
  }
}
