# shape: a -var-file with a string, a number, a list and a map
image    = "docker.io/library/nginx:1.25-alpine"
replicas = 2
dcs      = ["dc1", "dc2"]
labels = {
  team = "edge"
  tier = "frontend"
}
