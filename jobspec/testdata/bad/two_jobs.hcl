# want: two_jobs.hcl:6: more than one job block
job "a" {
  group "g" {}
}

job "b" {
  group "g" {}
}
