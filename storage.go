package troupe

import "time"

// StorageKind names one of the three storage collections.
type StorageKind string

// The three kinds of storage, named as in the API paths.
const (
	KindDataset       StorageKind = "datasets"
	KindKeyValueStore StorageKind = "key-value-stores"
	KindRequestQueue  StorageKind = "request-queues"
)

// Storage is what datasets, key-value stores and request queues share. The
// kind-specific counters are filled in by the store.
type Storage struct {
	ID            string      `json:"id"`
	Kind          StorageKind `json:"-"`
	Name          *string     `json:"name"`
	Title         *string     `json:"title,omitempty"`
	UserID        string      `json:"userId"`
	Username      string      `json:"username,omitempty"`
	CreatedAt     time.Time   `json:"createdAt"`
	ModifiedAt    time.Time   `json:"modifiedAt"`
	AccessedAt    time.Time   `json:"accessedAt"`
	ActID         *string     `json:"actId"`
	ActRunID      *string     `json:"actRunId"`
	GeneralAccess string      `json:"generalAccess"`

	// Dataset counters.
	ItemCount      *int64 `json:"itemCount,omitempty"`
	CleanItemCount *int64 `json:"cleanItemCount,omitempty"`
	// Request queue counters.
	TotalRequestCount   *int64 `json:"totalRequestCount,omitempty"`
	HandledRequestCount *int64 `json:"handledRequestCount,omitempty"`
	PendingRequestCount *int64 `json:"pendingRequestCount,omitempty"`
	HadMultipleClients  *bool  `json:"hadMultipleClients,omitempty"`

	// ConsoleURL is where a person sees the storage: troupe has no page of
	// its own for it, so the API answers the storage's API URL for
	// datasets and request queues (the API requires one) and leaves it out
	// for key-value stores.
	ConsoleURL string `json:"consoleUrl,omitempty"`

	// Stats holds the storage's operation and size counters. troupe meters
	// none of them, so the API answers an empty object (clients read it).
	Stats *StorageStats `json:"stats,omitempty"`
}

// StorageStats are a storage's counters (readCount, storageBytes...);
// troupe keeps none, so it is always empty.
type StorageStats struct{}

// Record is a value in a key-value store, kept with its content type and
// encoding exactly as it was written.
type Record struct {
	Key             string
	Value           []byte
	ContentType     string
	ContentEncoding string
}

// MaxRecordKeyLength is the longest a key-value record key may be.
const MaxRecordKeyLength = 256

// ValidRecordKey reports whether key is a valid key-value record key:
// 1–256 characters from a-zA-Z0-9!-_.'().
func ValidRecordKey(key string) bool {
	if key == "" || len(key) > MaxRecordKeyLength {
		return false
	}
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!' || c == '-' || c == '_' || c == '.' || c == '\'' || c == '(' || c == ')':
		default:
			return false
		}
	}
	return true
}
