module github.com/pollwire/pollwire

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/robfig/cron/v3 v3.0.1
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.48.0 // indirect
