package jobspec

import "math"

// NormalizeJSONNumbers gives a job decoded from JSON the driver config
// values its job file gives: encoding/json reads every number as float64,
// while a job file gives int64 for whole numbers (ctyToGo). Without it the
// same job sent back as JSON (`central job inspect` output) would differ
// from the registered one and become a new version with no change.
func (j *Job) NormalizeJSONNumbers() {
	for _, tg := range j.TaskGroups {
		if tg == nil {
			continue
		}
		for _, t := range tg.Tasks {
			if t != nil && t.Config != nil {
				t.Config = jsonNumbers(t.Config).(map[string]any)
			}
		}
	}
}

func jsonNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x)
		}
	case []any:
		for i := range x {
			x[i] = jsonNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonNumbers(x[k])
		}
	}
	return v
}
