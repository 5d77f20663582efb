package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/secrets"
)

const testSecret = "sk_live_very_secret_value_123"

func testSealer(t *testing.T, fill byte) *secrets.Sealer {
	t.Helper()
	s, err := secrets.NewSealer(bytes.Repeat([]byte{fill}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTestStore opens a store in a fresh directory and closes it on cleanup.
func newTestStore(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pollwire.db")
	return openTestStore(t, path, testSealer(t, 1)), path
}

// openTestStore opens path and closes it on cleanup; closing twice is fine.
func openTestStore(t *testing.T, path string, s *secrets.Sealer, opts ...Option) *Bolt {
	t.Helper()
	st, err := Open(path, s, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newInstance(name, token string) *instances.Instance {
	created := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	return &instances.Instance{
		Name:         name,
		Token:        token,
		ConnectorKey: "closeio",
		Tags:         []string{"team-a"},
		Config: map[string]string{
			"base.url":                        "https://api.close.com/api/v1",
			"event.notification.callback.url": "https://consumer.example/hooks/crm",
		},
		Secrets: map[string]string{
			"username":                         testSecret,
			"event.notification.signature.key": "whsec_c2lnbmF0dXJlX2tleV92YWx1ZQ",
		},
		CreatedAt: created,
		UpdatedAt: created,
	}
}

func mustCreate(t *testing.T, st Store, inst *instances.Instance) {
	t.Helper()
	if err := st.CreateInstance(context.Background(), inst); err != nil {
		t.Fatalf("CreateInstance(%s): %v", inst.Name, err)
	}
}

func assertInstance(t *testing.T, got, want *instances.Instance) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("instance mismatch\n got: %+v\nwant: %+v", got, want)
	}
}

func TestInstanceCRUD(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)

	list, err := st.ListInstances(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty ListInstances = %v, %v; want empty non-nil", list, err)
	}

	a, b := newInstance("a", "tok-a"), newInstance("b", "tok-b")
	b.Secrets = nil // an instance without secrets
	mustCreate(t, st, a)
	mustCreate(t, st, b)
	if a.ID != 1 || b.ID != 2 {
		t.Fatalf("ids = %d, %d; want 1, 2", a.ID, b.ID)
	}

	got, err := st.GetInstance(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertInstance(t, got, a)
	got, err = st.InstanceByToken(ctx, "tok-b")
	if err != nil {
		t.Fatal(err)
	}
	assertInstance(t, got, b)

	list, err = st.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("ListInstances returned %d", len(list))
	}
	assertInstance(t, list[0], a)
	assertInstance(t, list[1], b)

	// Returned instances are copies.
	got.Config["base.url"] = "mutated"
	if again, _ := st.GetInstance(ctx, b.ID); again.Config["base.url"] == "mutated" {
		t.Fatal("GetInstance result aliases store state")
	}

	a.Name = "a2"
	a.Config["event.poller.refresh_interval"] = "5"
	a.Secrets["username"] = "sk_live_rotated"
	a.Disabled = true
	if err := st.UpdateInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err = st.GetInstance(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertInstance(t, got, a)

	if err := st.DeleteInstance(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetInstance(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetInstance after delete: %v, want ErrNotFound", err)
	}
	if _, err := st.InstanceByToken(ctx, "tok-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("InstanceByToken after delete: %v, want ErrNotFound", err)
	}
	if list, _ := st.ListInstances(ctx); len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("ListInstances after delete = %v", list)
	}
	// The deleted instance's token is free again.
	mustCreate(t, st, newInstance("a3", "tok-a"))
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	mustCreate(t, st, newInstance("a", "tok-a"))

	missing := newInstance("ghost", "tok-ghost")
	for _, id := range []int64{0, -1, 99} {
		if _, err := st.GetInstance(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetInstance(%d): %v", id, err)
		}
		if err := st.DeleteInstance(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteInstance(%d): %v", id, err)
		}
		missing.ID = id
		if err := st.UpdateInstance(ctx, missing); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateInstance(%d): %v", id, err)
		}
	}
	for _, tok := range []string{"", "tok-ghost"} {
		if _, err := st.InstanceByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
			t.Errorf("InstanceByToken(%q): %v", tok, err)
		}
	}
	if err := st.CreateInstance(ctx, newInstance("x", "")); err == nil {
		t.Error("CreateInstance with empty token succeeded")
	}
	// A failed update must not have indexed the ghost's token.
	if _, err := st.InstanceByToken(ctx, "tok-ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ghost token indexed: %v", err)
	}
}

func TestIDsMonotonicAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pollwire.db")
	sealer := testSealer(t, 1)

	st := openTestStore(t, path, sealer)
	for i := 1; i <= 3; i++ {
		inst := newInstance(fmt.Sprint("i", i), fmt.Sprint("tok-", i))
		mustCreate(t, st, inst)
		if inst.ID != int64(i) {
			t.Fatalf("id = %d, want %d", inst.ID, i)
		}
	}
	// Deleting the highest id must not let it be handed out again.
	if err := st.DeleteInstance(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openTestStore(t, path, sealer)
	inst := newInstance("i4", "tok-4")
	mustCreate(t, st, inst)
	if inst.ID != 4 {
		t.Fatalf("id after reopen = %d, want 4", inst.ID)
	}
	if err := st.DeleteInstance(ctx, 4); err != nil {
		t.Fatal(err)
	}
	inst = newInstance("i5", "tok-5")
	mustCreate(t, st, inst)
	if inst.ID != 5 {
		t.Fatalf("id after delete = %d, want 5", inst.ID)
	}
}

func TestTokenConflict(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	mustCreate(t, st, newInstance("a", "tok-same"))

	dup := newInstance("b", "tok-same")
	err := st.CreateInstance(ctx, dup)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("CreateInstance with taken token: %v, want ErrConflict", err)
	}
	if strings.Contains(err.Error(), "tok-same") {
		t.Errorf("error reveals the token: %v", err)
	}
	if dup.ID != 0 {
		t.Errorf("failed create set ID to %d", dup.ID)
	}
	// The rolled-back create did not consume an id.
	next := newInstance("c", "tok-c")
	mustCreate(t, st, next)
	if next.ID != 2 {
		t.Errorf("next id = %d, want 2", next.ID)
	}
	if list, _ := st.ListInstances(ctx); len(list) != 2 {
		t.Errorf("%d instances stored, want 2", len(list))
	}
}

func TestUpdateTokenChange(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	a, b := newInstance("a", "tok-a"), newInstance("b", "tok-b")
	mustCreate(t, st, a)
	mustCreate(t, st, b)

	a.Token = "tok-a2"
	if err := st.UpdateInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.InstanceByToken(ctx, "tok-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old token still resolves: %v", err)
	}
	got, err := st.InstanceByToken(ctx, "tok-a2")
	if err != nil || got.ID != a.ID {
		t.Fatalf("new token: %v, %v", got, err)
	}

	// Taking another instance's token is a conflict and changes nothing.
	stolen := a.Clone()
	stolen.Token = "tok-b"
	stolen.Name = "should-not-persist"
	if err := st.UpdateInstance(ctx, stolen); !errors.Is(err, ErrConflict) {
		t.Fatalf("UpdateInstance to taken token: %v, want ErrConflict", err)
	}
	got, _ = st.GetInstance(ctx, a.ID)
	assertInstance(t, got, a)
	if got, _ := st.InstanceByToken(ctx, "tok-b"); got == nil || got.ID != b.ID {
		t.Fatalf("tok-b now resolves to %v", got)
	}

	// Keeping the same token is not a conflict with itself.
	a.Name = "a-renamed"
	if err := st.UpdateInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.InstanceByToken(ctx, "tok-a2"); got == nil || got.Name != "a-renamed" {
		t.Fatalf("after rename: %v", got)
	}
}

func TestSecretsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pollwire.db")
	key := bytes.Repeat([]byte{7}, secrets.KeySize)
	s1, _ := secrets.NewSealer(key)

	st := openTestStore(t, path, s1)
	inst := newInstance("a", "tok-a")
	mustCreate(t, st, inst)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new Sealer from the same key, as after a daemon restart.
	s2, _ := secrets.NewSealer(key)
	st = openTestStore(t, path, s2)
	got, err := st.GetInstance(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertInstance(t, got, inst)
	if got.Secrets["username"] != testSecret {
		t.Fatalf("secret = %q", got.Secrets["username"])
	}
}

func TestSecretsNotInFile(t *testing.T) {
	ctx := context.Background()
	st, path := newTestStore(t)

	a := newInstance("distinctive-instance-name-42", "tok-a")
	mustCreate(t, st, a)
	a.Secrets["password"] = "sk_live_updated_secret_456"
	if err := st.UpdateInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := newInstance("b", "tok-b")
	b.Secrets["username"] = "sk_live_deleted_secret_789"
	mustCreate(t, st, b)
	if err := st.DeleteInstance(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(a.Name)) {
		t.Fatal("instance name not found in the file: the scan below would prove nothing")
	}
	for _, secret := range []string{
		testSecret,
		"sk_live_updated_secret_456",
		"sk_live_deleted_secret_789",
		"whsec_c2lnbmF0dXJlX2tleV92YWx1ZQ",
		"event.notification.signature.key", // secret names are sealed too
	} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("file contains %q in plaintext", secret)
		}
	}
}

func TestWrongKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pollwire.db")
	st := openTestStore(t, path, testSealer(t, 1))
	inst := newInstance("a", "tok-a")
	mustCreate(t, st, inst)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A wrong key is refused at open, before anything runs on it.
	if _, err := Open(path, testSealer(t, 2)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with the wrong key: %v, want ErrWrongKey", err)
	}
	// Should the check value be lost, reads still refuse to return secrets.
	st = openTestStore(t, path, testSealer(t, 1))
	if err := st.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyCheck) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openTestStore(t, path, testSealer(t, 2))
	if _, err := st.GetInstance(ctx, inst.ID); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("GetInstance with wrong key: %v, want ErrDecrypt", err)
	}
	if _, err := st.InstanceByToken(ctx, "tok-a"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("InstanceByToken with wrong key: %v, want ErrDecrypt", err)
	}
	if _, err := st.ListInstances(ctx); !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("ListInstances with wrong key: %v, want ErrDecrypt", err)
	}
}

// TestSecretsBoundToInstance moves one instance's sealed secrets onto
// another: the aad must make them fail to open.
func TestSecretsBoundToInstance(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	a, b := newInstance("a", "tok-a"), newInstance("b", "tok-b")
	mustCreate(t, st, a)
	mustCreate(t, st, b)
	err := st.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketInstanceSecrets)
		return bk.Put(itob(uint64(b.ID)), clone(bk.Get(itob(uint64(a.ID)))))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetInstance(ctx, b.ID); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("GetInstance with moved ciphertext: %v, want ErrDecrypt", err)
	}
}

func readSchemaVersion(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta).Get(keySchemaVersion)
		if len(b) != 8 {
			return fmt.Errorf("schema_version is %x", b)
		}
		v = btoi(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaVersion(t *testing.T) {
	st, path := newTestStore(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readSchemaVersion(t, path); got != schemaVersion || got < 1 {
		t.Fatalf("fresh file schema version = %d, want %d", got, schemaVersion)
	}

	// Reopening a current file changes nothing.
	st = openTestStore(t, path, testSealer(t, 1))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A file from a newer pollwire is refused, and left as it was.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, itob(schemaVersion+1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, testSealer(t, 1))
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of newer schema: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", schemaVersion+1)) {
		t.Errorf("error does not name the file's version: %v", err)
	}
	if got := readSchemaVersion(t, path); got != schemaVersion+1 {
		t.Errorf("refused file now has version %d", got)
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var ran []int
	step := func(n int) func(*bolt.Tx) error {
		return func(*bolt.Tx) error { ran = append(ran, n); return nil }
	}
	run := func(table []func(*bolt.Tx) error) error {
		return db.Update(func(tx *bolt.Tx) error { return migrate(tx, table) })
	}
	version := func() uint64 {
		var v uint64
		db.View(func(tx *bolt.Tx) error { v = btoi(tx.Bucket(bucketMeta).Get(keySchemaVersion)); return nil })
		return v
	}

	if err := run([]func(*bolt.Tx) error{step(1)}); err != nil {
		t.Fatal(err)
	}
	if err := run([]func(*bolt.Tx) error{step(1), step(2), step(3)}); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3}; !reflect.DeepEqual(ran, want) {
		t.Fatalf("ran %v, want %v (each step once, in order)", ran, want)
	}
	if v := version(); v != 3 {
		t.Fatalf("version = %d, want 3", v)
	}

	// A failing step rolls back the whole upgrade, earlier steps included.
	ran = nil
	boom := errors.New("boom")
	table := []func(*bolt.Tx) error{step(1), step(2), step(3),
		func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("new")); return err },
		func(*bolt.Tx) error { return boom },
	}
	if err := run(table); !errors.Is(err, boom) {
		t.Fatalf("failing migration: %v", err)
	}
	if v := version(); v != 3 {
		t.Fatalf("version after failed upgrade = %d, want 3", v)
	}
	db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("new")) != nil {
			t.Error("failed upgrade left a bucket behind")
		}
		return nil
	})
}

func TestOpenLockedFailsFast(t *testing.T) {
	st, path := newTestStore(t)

	start := time.Now()
	_, err := Open(path, testSealer(t, 1), WithLockTimeout(200*time.Millisecond))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("second Open took %s", elapsed)
	}
	want := fmt.Sprintf("data directory %s is in use by another pollwire process", filepath.Dir(path))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}

	// Once the owner closes, the file opens again.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	openTestStore(t, path, testSealer(t, 1), WithLockTimeout(200*time.Millisecond))
}

func TestConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	const workers, each = 8, 25

	ids := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				inst := newInstance(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("tok-%d-%d", w, i))
				if err := st.CreateInstance(ctx, inst); err != nil {
					t.Error(err)
					return
				}
				ids <- inst.ID
			}
		})
	}
	// Readers alongside the writers, for the race detector.
	for range 2 {
		wg.Go(func() {
			for range each {
				if _, err := st.ListInstances(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(ids)

	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d handed out twice", id)
		}
		seen[id] = true
	}
	for id := int64(1); id <= workers*each; id++ {
		if !seen[id] {
			t.Fatalf("id %d missing: ids are not 1..%d", id, workers*each)
		}
	}
	list, err := st.ListInstances(ctx)
	if err != nil || len(list) != workers*each {
		t.Fatalf("ListInstances: %d, %v", len(list), err)
	}
	for i, inst := range list {
		if inst.ID != int64(i+1) {
			t.Fatalf("list[%d].ID = %d: not ordered by id", i, inst.ID)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	st, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	inst := newInstance("a", "tok-a")
	checks := map[string]error{
		"CreateInstance": st.CreateInstance(ctx, inst),
		"UpdateInstance": st.UpdateInstance(ctx, &instances.Instance{ID: 1, Token: "t"}),
		"DeleteInstance": st.DeleteInstance(ctx, 1),
		"PutMeta":        st.PutMeta(ctx, "k", []byte("v")),
	}
	_, checks["GetInstance"] = st.GetInstance(ctx, 1)
	_, checks["InstanceByToken"] = st.InstanceByToken(ctx, "t")
	_, checks["ListInstances"] = st.ListInstances(ctx)
	_, checks["GetMeta"] = st.GetMeta(ctx, "k")
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", name, err)
		}
	}
	if list, _ := st.ListInstances(context.Background()); len(list) != 0 {
		t.Error("canceled create stored an instance")
	}
}

func TestMeta(t *testing.T) {
	ctx := context.Background()
	st, path := newTestStore(t)

	if _, err := st.GetMeta(ctx, "user_secret_hash"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta missing: %v", err)
	}
	val := []byte("hash-1")
	if err := st.PutMeta(ctx, "user_secret_hash", val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied it
	got, err := st.GetMeta(ctx, "user_secret_hash")
	if err != nil || string(got) != "hash-1" {
		t.Fatalf("GetMeta = %q, %v", got, err)
	}
	if err := st.PutMeta(ctx, "user_secret_hash", []byte("hash-2")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeta(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	got, err = st.GetMeta(ctx, "empty")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("GetMeta(empty) = %#v, %v; want empty non-nil", got, err)
	}
	// A key that sorts right after a missing one is not a match.
	if _, err := st.GetMeta(ctx, "user_secret"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta prefix: %v", err)
	}
	if _, err := st.GetMeta(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta empty key: %v", err)
	}
	if err := st.PutMeta(ctx, "", []byte("v")); err == nil {
		t.Error("PutMeta with empty key succeeded")
	}
	if err := st.PutMeta(ctx, string(keySchemaVersion), itob(99)); err == nil {
		t.Error("PutMeta overwrote schema_version")
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openTestStore(t, path, testSealer(t, 1))
	if got, err := st.GetMeta(ctx, "user_secret_hash"); err != nil || string(got) != "hash-2" {
		t.Fatalf("GetMeta after reopen = %q, %v", got, err)
	}
}

func TestFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permission bits")
	}
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "pollwire.db")
	openTestStore(t, path, testSealer(t, 1))
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
}

func TestOpenNilSealer(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "x.db"), nil); err == nil {
		t.Fatal("Open with nil sealer succeeded")
	}
}
