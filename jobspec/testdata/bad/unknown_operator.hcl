# want: unknown_operator.hcl:6: unknown constraint operator "~="
job "web" {
  group "g" {
    constraint {
      attribute = "${attr.cpu.arch}"
      operator  = "~="
      value     = "arm"
    }
    task "t" { driver = "exec" }
  }
}
