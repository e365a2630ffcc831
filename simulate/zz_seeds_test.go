package simulate
import ("testing";"time";"github.com/iaasbench/iaasbench/scenarios")
func TestSeedsSpread(t *testing.T){
 const d = time.Millisecond
 for seed:=uint64(1); seed<=8; seed++ {
  for _, rho := range []float64{0.5,0.8} {
   c := base(d); c.Seed=seed
   c.Mode, c.Arrival, c.Rate = scenarios.ModeOpen, scenarios.ArrivalPoisson, rho/d.Seconds()
   c.Duration = 400*time.Second
   r := run(t,c); wq := meanLatency(r)-d.Seconds(); want := rho*d.Seconds()/(2*(1-rho))
   c.ExponentialService=true; c.Rate=0.7/d.Seconds()
   r2 := run(t,c); wq2 := r2.QueueS/float64(r2.Requests); want2 := 0.7*d.Seconds()/0.3
   t.Logf("seed %d rho %.1f md1 %+.2f%%  mm1(0.7) %+.2f%%", seed, rho, 100*(wq-want)/want, 100*(wq2-want2)/want2)
  }
 }
}
