# want: unknown_block.hcl:3: job "web": unknown block "grup"; did you mean "group"?
job "web" {
  grup "g" {
    task "t" { driver = "exec" }
  }
}
