package demo

import (
	"fmt"
	"sync"

	"github.com/pollwire/pollwire/connectors/closeio"
)

// closeScenario provisions the seed's instance.json (SAP's Close.io events
// example: contacts) plus opportunities in the same style, against the Close
// simulator with Close-like rate limits, and makes creates, updates and
// deletes.
func closeScenario() *scenario {
	const apiKey = "demo-close-api-key"
	sim := closeio.NewSimulator(closeio.SimOptions{APIKey: apiKey, RateLimit: closeio.DefaultRateLimit})
	resources := []string{"contacts", "opportunities"}
	objectType := map[string]string{"contacts": closeio.TypeContact, "opportunities": closeio.TypeOpportunity}
	var mu sync.Mutex
	ids := map[string][]string{}
	return &scenario{
		handler:   sim,
		resources: resources,
		instance: func(vendorURL, callbackURL, sigKey string) map[string]any {
			pc := map[string]any{}
			for _, res := range resources {
				pc[res] = map[string]any{
					"url":     "/hubs/crm/" + res + "?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'",
					"idField": "id",
					"datesConfiguration": map[string]any{
						"updatedDateField":  "date_updated",
						"updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
						"createdDateField":  "date_created",
						"createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
					},
				}
			}
			return map[string]any{
				"connector": map[string]any{"key": "closeio"},
				"configuration": map[string]any{
					"username":                         apiKey,
					"password":                         "",
					"base.url":                         vendorURL,
					"event.notification.enabled":       "true",
					"event.notification.callback.url":  callbackURL,
					"event.notification.signature.key": sigKey,
					"event.vendor.type":                "polling",
					"event.poller.refresh_interval":    "2s",
					"event.poller.configuration":       pc,
				},
				"tags": []string{"demo"},
				"name": "demo-close",
			}
		},
		change: func(n int) {
			res := resources[n%len(resources)]
			typ := objectType[res]
			mu.Lock()
			defer mu.Unlock()
			known := ids[res]
			switch r := randN(6); {
			case len(known) > 3 && r == 0:
				i := randN(len(known))
				if sim.Delete(typ, known[i]) == nil {
					ids[res] = append(known[:i], known[i+1:]...)
				}
			case len(known) > 3 && r < 3:
				sim.Update(typ, known[randN(len(known))], map[string]any{"name": fmt.Sprintf("%s %d (edited)", res, n)})
			default:
				rec := sim.Create(typ, map[string]any{"name": fmt.Sprintf("%s %d", res, n)})
				ids[res] = append(ids[res], fmt.Sprint(rec["id"]))
			}
		},
	}
}
