package ceql_test

import (
	"fmt"

	"github.com/pollwire/pollwire/connectors/ceql"
)

// A connector walks the conjuncts, translates the clauses its vendor can
// express and answers *ceql.Unsupported for the first one it cannot.
func Example() {
	e, err := ceql.Parse(`date_updated>'2024-01-02T03:04:05.123456+00:00' AND name LIKE 'a%'`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, clause := range ceql.Conjuncts(e) {
		c, ok := clause.(*ceql.Compare)
		if ok && c.Field == "date_updated" && c.Op == ceql.Gt {
			if t, ok := c.Value.Time(); ok {
				fmt.Println("date_updated__gt =", t.Format("2006-01-02T15:04:05.999999Z07:00"))
				continue
			}
		}
		fmt.Println(&ceql.Unsupported{Clause: clause, Reason: "closeio contacts filter on date_updated only"})
	}
	// Output:
	// date_updated__gt = 2024-01-02T03:04:05.123456Z
	// cannot translate "name LIKE 'a%'": closeio contacts filter on date_updated only
}

func ExampleParse_error() {
	_, err := ceql.Parse(`date_updated>`)
	fmt.Println(err)
	// Output: ceql: at 13: expected a value after ">", found end of input
}
