package demo

import (
	"fmt"
	"sync"

	"github.com/pollwire/pollwire/connectors/hubspot"
)

// hubspotScenario polls the HubSpot simulator (private-app token) for
// contacts, companies and deals, with creates, updates and archives.
func hubspotScenario() *scenario {
	const token = "demo-private-app-token"
	sim := hubspot.NewSimulator(hubspot.SimOptions{PrivateAppToken: token})
	resources := []string{"contacts", "accounts", "opportunities"}
	objectType := map[string]string{"contacts": "contacts", "accounts": "companies", "opportunities": "deals"}
	dateProp := map[string]string{"contacts": "lastmodifieddate", "accounts": "hs_lastmodifieddate", "opportunities": "hs_lastmodifieddate"}
	var mu sync.Mutex
	ids := map[string][]string{}
	return &scenario{
		handler:   sim,
		resources: resources,
		instance: func(vendorURL, callbackURL, sigKey string) map[string]any {
			pc := map[string]any{}
			for _, res := range resources {
				pc[res] = map[string]any{
					"url":                "/hubs/crm/" + res + "?where=" + dateProp[res] + ">='${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}'",
					"datesConfiguration": map[string]any{"updatedDateField": "updatedAt", "createdDateField": "createdAt"},
				}
			}
			return map[string]any{
				"connector": map[string]any{"key": "hubspot"}, "name": "demo-hubspot", "tags": []string{"demo"},
				"configuration": map[string]any{
					"base.url": vendorURL, "authentication.type": "private-app", "hubspot.access.token": token,
					"event.notification.enabled":       "true",
					"event.notification.callback.url":  callbackURL,
					"event.notification.signature.key": sigKey,
					"event.poller.refresh_interval":    "2s",
					"event.poller.configuration":       pc,
				},
			}
		},
		change: func(n int) {
			res := resources[n%len(resources)]
			typ := objectType[res]
			mu.Lock()
			defer mu.Unlock()
			known := ids[res]
			switch r := randN(6); {
			case len(known) > 3 && r == 0: // archive
				i := randN(len(known))
				sim.Archive(typ, known[i])
				ids[res] = append(known[:i], known[i+1:]...)
			case len(known) > 3 && r < 3: // update
				sim.Update(typ, known[randN(len(known))], map[string]string{"name": fmt.Sprintf("%s %d (edited)", res, n)})
			default:
				o := sim.Create(typ, map[string]string{"name": fmt.Sprintf("%s %d", res, n)})
				ids[res] = append(ids[res], o.ID)
			}
		},
	}
}
