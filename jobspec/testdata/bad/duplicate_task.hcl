# want: duplicate_task.hcl:5: duplicate task "t" in group "g"
job "web" {
  group "g" {
    task "t" { driver = "exec" }
    task "t" { driver = "wasm" }
  }
}
