# want: template_source_data.hcl:9: template for "local/a.conf" sets both data and source
# want: template_source_data.hcl:15: template source "../../etc/passwd" is outside the task directory
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      template {
        data        = "x"
        source      = "local/a.tpl"
        destination = "local/a.conf"
      }
      template {
        destination = "local/b.conf"
        splay       = "5s"
        source      = "../../etc/passwd"
      }
    }
  }
}
