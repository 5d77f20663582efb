package demo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/pollwire/pollwire/connectors/salesforce"
)

// salesforceScenario polls the Salesforce simulator through the JWT bearer
// flow (a key pair made for the run) for contacts, accounts and
// opportunities, with creates, updates and deletes.
func salesforceScenario() *scenario {
	const consumerKey, username = "demo-consumer-key", "demo@pollwire.example"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("demo key: %v", err)) // crypto/rand failing is not recoverable
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	sim := salesforce.NewSimulator(salesforce.SimOptions{ConsumerKey: consumerKey, Username: username, PublicKey: &key.PublicKey})
	resources := []string{"contacts", "accounts", "opportunities"}
	var mu sync.Mutex
	ids := map[string][]string{}
	return &scenario{
		handler:   sim,
		resources: resources,
		instance: func(vendorURL, callbackURL, sigKey string) map[string]any {
			pc := map[string]any{}
			for _, res := range resources {
				pc[res] = map[string]any{
					"url": "/hubs/crm/" + res + "?where=SystemModstamp>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}'",
				}
			}
			return map[string]any{
				"connector": map[string]any{"key": "salesforce"}, "name": "demo-salesforce", "tags": []string{"demo"},
				"configuration": map[string]any{
					"oauth.api.key": consumerKey, "salesforce.username": username, "oauth.private.key": pemKey,
					"salesforce.login.url":             vendorURL,
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
			obj := salesforce.Object(res)
			mu.Lock()
			defer mu.Unlock()
			known := ids[res]
			switch r := randN(6); {
			case len(known) > 3 && r == 0:
				i := randN(len(known))
				if sim.Delete(obj, known[i]) {
					ids[res] = append(known[:i], known[i+1:]...)
				}
			case len(known) > 3 && r < 3:
				sim.Update(obj, known[randN(len(known))], map[string]any{"Description": fmt.Sprintf("edited %d", n)})
			default:
				fields := map[string]any{"Name": fmt.Sprintf("%s %d", res, n)}
				if res == "contacts" {
					fields = map[string]any{"LastName": fmt.Sprintf("Contact %d", n)}
				}
				if res == "opportunities" {
					fields["StageName"], fields["CloseDate"] = "Prospecting", "2027-01-31"
				}
				ids[res] = append(ids[res], sim.Create(obj, fields).ID)
			}
		},
	}
}
