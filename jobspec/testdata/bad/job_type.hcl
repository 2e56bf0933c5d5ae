# want: job_type.hcl:3: unknown job type "servce" (known: service, system, batch, sysbatch); did you mean "service"?
job "web" {
  type = "servce"
  group "g" {
    task "t" { driver = "exec" }
  }
}
