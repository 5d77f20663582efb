package demo

import (
	"fmt"
	"sync"

	"github.com/pollwire/pollwire/connectors/rest"
)

// restScenario polls the generic REST simulator: creates and updates (the
// rest connector cannot see deletions).
func restScenario() *scenario {
	sim := rest.NewSimulator(rest.SimOptions{})
	resources := []string{"contacts", "opportunities"}
	var mu sync.Mutex
	ids := map[string][]string{}
	return &scenario{
		handler:   sim,
		resources: resources,
		instance: func(vendorURL, callbackURL, sigKey string) map[string]any {
			pc := map[string]any{}
			for _, res := range resources {
				pc[res] = map[string]any{
					"url":         "/offset/" + res + "?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}",
					"recordsPath": "data",
					"pageSize":    50,
					"pagination":  map[string]any{"type": "offset", "hasMorePath": "has_more"},
					"datesConfiguration": map[string]any{
						"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
						"createdDateField": "created_at", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
					},
				}
			}
			return map[string]any{
				"connector": map[string]any{"key": "rest"}, "name": "demo", "tags": []string{"demo"},
				"configuration": map[string]any{
					"base.url": vendorURL, "event.notification.enabled": "true",
					"event.notification.callback.url":  callbackURL,
					"event.notification.signature.key": sigKey,
					"event.poller.refresh_interval":    "2s",
					"event.poller.configuration":       pc,
				},
			}
		},
		change: func(n int) {
			res := resources[n%len(resources)]
			fields := map[string]any{"name": fmt.Sprintf("%s %d", res, n), "amount": n * 10}
			mu.Lock()
			defer mu.Unlock()
			if known := ids[res]; len(known) > 3 && randN(3) == 0 {
				fields["id"] = known[randN(len(known))] // an update
			}
			rec := sim.Put(res, fields)
			if _, upd := fields["id"]; !upd {
				ids[res] = append(ids[res], fmt.Sprint(rec["id"]))
			}
		},
	}
}
