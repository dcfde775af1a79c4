package collect_test

import (
	"errors"

	"github.com/feedbatch/feedbatch/stages"
)

func isPermanent(err error) bool { return errors.Is(err, stages.ErrPermanent) }
