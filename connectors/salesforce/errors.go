package salesforce

import "errors"

// ErrCredentials is returned when an instance lacks what the JWT bearer
// flow needs (consumer key, user name, an RSA private key).
var ErrCredentials = errors.New("salesforce: incomplete JWT bearer credentials")

// ErrUnknownResource is returned by Translate for a hub resource the
// connector does not map to an sObject.
var ErrUnknownResource = errors.New("salesforce: unknown hub resource")

// ErrResponse is wrapped by errors about a Salesforce answer that does not
// have the shape the API documents (no records array, no done flag, a
// nextRecordsUrl off the instance).
var ErrResponse = errors.New("salesforce: unexpected response")
