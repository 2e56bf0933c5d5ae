# want: reconcile.hcl:5: unknown disconnect reconcile "best"
job "web" {
  group "g" {
    disconnect {
      reconcile = "best"
    }
    task "t" { driver = "exec" }
  }
}
