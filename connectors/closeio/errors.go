package closeio

import "errors"

// ErrWebhookPayload is returned by Changes when a verified webhook body is
// not Close's shape, or a record in it lacks the id or date the poller
// would read: a change whose (ObjectID, Date) cannot be known exactly would
// slip past the engine's dedupe.
var ErrWebhookPayload = errors.New("closeio: webhook payload not understood")
