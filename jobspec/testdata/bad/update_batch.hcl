# want: update_batch.hcl:4: job type "batch" does not allow an update block
job "b" {
  type = "batch"
  update {
    max_parallel = 1
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}
