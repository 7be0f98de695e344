package router

import "tellonce/cases"

func invalid(field, format string, args ...any) error {
	return cases.Invalid(field, format, args...)
}
