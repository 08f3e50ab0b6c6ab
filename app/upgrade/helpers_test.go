package upgrade

import txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"

func scheduleOf(act string) *txv1.ScheduleUpgrade {
	s := &txv1.ScheduleUpgrade{Version: 2}
	switch act {
	case "next":
		s.Activation = &txv1.ScheduleUpgrade_NextBlock{NextBlock: true}
	case "in1":
		s.Activation = &txv1.ScheduleUpgrade_InBlocks{InBlocks: 1}
	case "in3":
		s.Activation = &txv1.ScheduleUpgrade_InBlocks{InBlocks: 3}
	case "at50":
		s.Activation = &txv1.ScheduleUpgrade_Height{Height: 50}
	}
	return s
}
