# shape: a misspelt block in a task ("enviroment" for env): the error names the nearest known block, each known name once
# want: unknown block "enviroment"
job "typo" {
  group "g" {
    task "t" {
      driver = "exec"

      config {
        command = "/opt/app/app"
      }

      enviroment {
        LEVEL = "info"
      }
    }
  }
}
